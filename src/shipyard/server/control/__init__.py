"""The control plane behind ``shipyard server``: a management API over the services the CLI calls, with
users, roles and tokens, so a team shares one registry behind one login instead of a database password.

``app`` assembles it; ``identity`` says who is calling and what their role lets them do; each router module
(``registry_routes``, …) is a thin layer over one service, returning the same dictionaries the CLI prints
with ``--json``.
"""
