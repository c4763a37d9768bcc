"""Pieces of the test JupyterHub that stand in for what cannot run here.

- NoopProxy: configurable-http-proxy is a Node package and cannot be installed here. The hub is
  reached directly at its hub_bind_url; routes are only kept in a dict.
- InProcessSpawner: "starts" a user's server as a tiny HTTP endpoint inside the hub's own event
  loop (no Kubernetes, no jupyter-server, no subprocess). start/poll/stop behave like a real
  spawner's, so the hub's start/stop-server API and "stop the server before deleting the user"
  can be exercised. Everything else (authentication, users, groups, tokens) is the real hub.
"""

from jupyterhub.proxy import Proxy
from jupyterhub.spawner import Spawner
from tornado import httpserver, netutil, web
from traitlets import Dict


class NoopProxy(Proxy):
    """A proxy that is never started and keeps its routes in memory."""

    should_start = False
    routes = Dict()

    async def start(self):
        pass

    async def stop(self):
        pass

    async def add_route(self, routespec, target, data):
        self.routes[routespec] = {"routespec": routespec, "target": target, "data": dict(data)}

    async def delete_route(self, routespec):
        self.routes.pop(routespec, None)

    async def get_all_routes(self):
        return {k: dict(v) for k, v in self.routes.items()}


class _FakeServerHandler(web.RequestHandler):
    def get(self, *args):
        self.set_header("Content-Type", "application/json")
        self.write({"fake": "accesssync test single-user server", "path": self.request.path})

    post = put = patch = delete = get


class InProcessSpawner(Spawner):
    """A spawner whose server is an HTTP listener in the hub process itself."""

    _fake_http = None
    _fake_port = None

    async def start(self):
        sockets = netutil.bind_sockets(0, "127.0.0.1")
        self._fake_port = sockets[0].getsockname()[1]
        self._fake_http = httpserver.HTTPServer(web.Application([(r"/.*", _FakeServerHandler)]))
        self._fake_http.add_sockets(sockets)
        self.log.info("InProcessSpawner: %s listening on 127.0.0.1:%s", self.user.name, self._fake_port)
        return ("127.0.0.1", self._fake_port)

    async def poll(self):
        # None = running, an integer = exited. After a hub restart nothing is running.
        return None if self._fake_http is not None else 0

    async def stop(self, now=False):
        if self._fake_http is not None:
            self._fake_http.stop()
            self._fake_http = None
            self.log.info("InProcessSpawner: stopped %s", self.user.name)

    def get_state(self):
        return {}

    def load_state(self, state):
        pass
