"""The ``ahora`` command line: one module per command group, wired up in ``main.py``.

    main.py         the ``ahora`` app, the list of command modules, ``main()``
    common.py       shared options, settings from flags, exit codes, error messages
    ask_cmd.py      ahora ask
    chat_cmd.py     ahora chat (the REPL and its slash commands)
    threads_cmd.py  ahora threads [show|rm|export]
    export_cmd.py   ahora threads export (fine-tuning JSONL)
    agents_cmd.py   ahora agents [list|show]
    docs_cmd.py     ahora docs add|list|rm|search
    info_cmd.py     ahora tools, ahora models
    config_cmd.py   ahora config path|show
    session.py      an agent (profile + tools) bound to a saved thread (ask and chat)
    approvals.py    tool calls that need approval: --yes, y/n on a terminal, or rejected
    render.py       draws events: terminal (rich) or plain

Nothing here imports LangChain at module level: listing commands start fast.
"""
