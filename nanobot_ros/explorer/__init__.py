"""The session explorer: a local web app over recorded sessions and world model checkpoints.

    ./run.sh nanobot explore [sessions folder] [--checkpoints DIR] [--port 8790]

sessions.py finds sessions and reads their frames (BagDataset); workbench.py runs a world model
checkpoint on them (predictions, errors, introspection) and trains it (the adaptive loop's own
training code) in a background thread; server.py serves the JSON API and the page in static/
(plain HTML, CSS and JavaScript from this package: no CDN, nothing fetched from elsewhere).
"""
