"""The browser playground (`priorlab serve`): a FastAPI app over the fit1d and fold experiments' own code.

``create_app(max_sessions=64, idle_s=1800)`` builds the app; :mod:`priorlab.serve.sessions` holds the training
sessions, :mod:`priorlab.serve.save` turns one into a run in the store, ``static/`` is the page (no CDN).
"""
