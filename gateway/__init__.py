"""The nginx gateway: its template and the script that renders it for a local nginx."""
