# JupyterHub configuration for AccessSync's test hub (scripts/testenv/jupyterhub.sh writes the
# environment this file reads). It is configured as production must be (DESIGN.md, "JupyterHub
# reality"): the authenticator admits ONLY users that already exist in the hub database, so
# deleting a user through the REST API is a revocation that holds.
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

c = get_config()  # noqa: F821  (provided by jupyterhub)

env_dir = os.environ["ACCESSSYNC_HUB_DIR"]
port = int(os.environ["ACCESSSYNC_HUB_PORT"])
manage_groups = os.environ.get("ACCESSSYNC_HUB_MANAGE_GROUPS", "0") == "1"


def secret(name):
    with open(os.path.join(env_dir, name), encoding="utf-8") as f:
        return f.read().strip()


# --- where it listens and keeps its state
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port}"
c.JupyterHub.bind_url = f"http://127.0.0.1:{port}"      # no proxy: the hub is the front door
c.JupyterHub.db_url = "sqlite:///" + os.path.join(env_dir, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(env_dir, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(env_dir, "jupyterhub.pid.self")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.redirect_to_server = False
c.JupyterHub.log_level = "INFO"

# --- no configurable-http-proxy here (Node): a proxy that keeps routes in a dict
c.JupyterHub.proxy_class = "testhub.NoopProxy"

# --- a spawner that "starts" in-process (no Kubernetes, no jupyter-server)
c.JupyterHub.spawner_class = "testhub.InProcessSpawner"
c.Spawner.http_timeout = 10
c.Spawner.start_timeout = 10

# --- authentication: one shared password, existing users only (production-like)
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = secret("user.pw")
c.Authenticator.allow_all = False
c.Authenticator.allow_existing_users = True
c.Authenticator.allowed_users = set()
c.Authenticator.admin_users = set()
c.Authenticator.manage_groups = manage_groups   # False in production with AccessSync

# --- the AccessSync service: admin, because setting admin flags needs it (real-servers.md)
c.JupyterHub.services = [
    {"name": "accesssync", "api_token": secret("accesssync.token"), "admin": True},
]
