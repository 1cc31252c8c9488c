"""`stylegram serve`: a local web studio on Starlette and uvicorn.

    config.py    ServeConfig: host, port, data dir, limits
    store.py     the persisted jobs: inputs, settings, state and results in the data dir
    uploads.py   multipart uploads checked by decoding, settings checked by StyleConfig
    worker.py    the worker process that runs jobs one at a time, and its manager
    events.py    progress events fanned out to clients as Server-Sent Events
    explorer.py  the unit explorer: top patches, activation maps, explain-style
    app.py       the routes, the guard (host, token, origin) and the lifespan
    static/      the page: plain HTML, CSS and JavaScript modules

Starlette and uvicorn are the `stylegram[web]` extra; nothing here is imported by the base package.
"""
