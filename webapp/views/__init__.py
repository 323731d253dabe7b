"""The team's own views: create_app() registers every Blueprint the modules here define.

Add a view by adding a module (see team.py, the example); nothing of pgfront's is edited.
Blueprints of another package are named by the BLUEPRINTS setting (webapp/app/team_views.py).
"""
