"""The plumbing create_app() puts together: auth, deadlines, security headers, serving, CLI.

Also the parsers of setting values (config.py reads the environment), the WSGI request class
and the loading of the team's own views.
"""
