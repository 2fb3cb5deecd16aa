"""The ``ahora`` command line: one module per command group, wired up in ``main.py``.

    main.py         the ``ahora`` app, the list of command modules, ``main()``
    common.py       shared options, settings from flags, exit codes, error messages
    ask_cmd.py      ahora ask
    chat_cmd.py     ahora chat (the REPL and its slash commands)
    threads_cmd.py  ahora threads [show|rm]
    info_cmd.py     ahora tools, ahora models
    config_cmd.py   ahora config path|show
    session.py      an agent bound to a saved thread (used by ask and chat)
    render.py       draws events: terminal (rich) or plain

Nothing here imports LangChain at module level: listing commands start fast.
"""
