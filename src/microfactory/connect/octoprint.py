"""OctoPrint as a printer host: the `PrinterHost` port over OctoPrint's REST API (httpx, the
API key in the `X-Api-Key` header).

Errors are translated here, once: the host unreachable or timing out, a refused API key
(401/403) and a failed upload become `ConnectorError`; a busy printer (409: a job runs, or the
printer is not operational) becomes `Conflict`; an unknown file `NotFound`. Each message names
the host and what it answered. The key itself never appears in a message or a log.

Endpoints used (OctoPrint 1.x): `GET /api/job`, `GET /api/printer`, `POST /api/files/local`
(multipart upload), `POST /api/files/local/<name>` (select and print), `POST /api/job`
(pause, resume, cancel), `GET /api/files/local`, `DELETE /api/files/local/<name>`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from microfactory.core.errors import Conflict, ConnectorError, NotFound
from microfactory.shopfloor.printers import HostState, PrinterStatus, Temperature

_BUSY_TEXTS = ("pausing", "cancelling", "resuming", "finishing", "starting", "transferring")
_OFFLINE_TEXTS = ("offline", "opening serial", "detecting", "connecting", "closed")


class OctoPrintHost:
    """One OctoPrint server (one printer). `key_source` says where the key came from (e.g.
    "$OCTOPRINT_KEY") so that a refused key points the operator to the right place."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout_s: float = 5.0,
        key_source: str = "the configured API key",
        upload_timeout_s: float = 120.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.key_source = key_source
        self.upload_timeout_s = upload_timeout_s
        self._client = httpx.Client(
            base_url=self.url,
            headers={"X-Api-Key": api_key, "User-Agent": "microfactory"},
            timeout=httpx.Timeout(timeout_s),
        )

    @property
    def name(self) -> str:
        return self.url

    def close(self) -> None:
        self._client.close()

    # -- the port --

    def status(self) -> PrinterStatus:
        printer: dict[str, Any] | None
        try:
            printer = self._json(
                "GET", "/api/printer", what="read the printer", params={"exclude": "sd"}
            )
        except Conflict:  # OctoPrint answers 409 when no printer is connected
            printer = None
        # read second: its state and its progress come from one answer, so they agree
        job = self._json("GET", "/api/job", what="read the job")
        state, message = _state(str(job.get("state") or ""), printer)
        file = (job.get("job") or {}).get("file") or {}
        progress = job.get("progress") or {}
        completion = progress.get("completion")
        left = progress.get("printTimeLeft")
        elapsed = progress.get("printTime")
        return PrinterStatus(
            state=state,
            job=file.get("path") or file.get("name"),
            progress=None if completion is None else min(100.0, max(0.0, float(completion))),
            time_left_s=None if left is None else max(0, int(left)),
            print_time_s=None if elapsed is None else max(0, int(elapsed)),
            temperatures=_temperatures(printer),
            message=message,
        )

    def upload(self, name: str, gcode: bytes, *, start: bool = False) -> str:
        form = {"select": "true", "print": "true"} if start else {}
        try:
            response = self._request(
                "POST",
                "/api/files/local",
                what=f"upload {name}" + (" and start it" if start else ""),
                files={"file": (name, gcode, "application/octet-stream")},
                data=form,
                timeout=self.upload_timeout_s,
            )
        except (NotFound, ConnectorError) as exc:
            raise ConnectorError(
                f"upload of {name} to OctoPrint at {self.url} failed: {exc}"
            ) from None
        body = _body(response)
        if not isinstance(body, dict):
            body = {}
        if body.get("done") is False:
            raise ConnectorError(f"upload of {name} to OctoPrint at {self.url} did not complete")
        if start and body.get("effectivePrint") is False:
            raise Conflict(f"OctoPrint at {self.url} stored {name} but did not start it (busy)")
        stored = (body.get("files") or {}).get("local") or {}
        return str(stored.get("path") or stored.get("name") or name)

    def start(self, name: str) -> None:
        self._request(
            "POST",
            f"/api/files/local/{quote(name)}",
            what=f"start {name}",
            json={"command": "select", "print": True},
        )

    def pause(self) -> None:
        self._request(
            "POST", "/api/job", what="pause", json={"command": "pause", "action": "pause"}
        )

    def resume(self) -> None:
        self._request(
            "POST", "/api/job", what="resume", json={"command": "pause", "action": "resume"}
        )

    def cancel(self) -> None:
        self._request("POST", "/api/job", what="cancel", json={"command": "cancel"})

    def files(self) -> list[str]:
        body = self._json("GET", "/api/files/local", what="list files")
        return sorted(
            str(f.get("path") or f.get("name"))
            for f in body.get("files", [])
            if f.get("type") == "machinecode"
        )

    def remove(self, name: str) -> None:
        self._request("DELETE", f"/api/files/local/{quote(name)}", what=f"remove {name}")

    # -- HTTP and error translation --

    def _json(self, method: str, path: str, *, what: str, **kw: Any) -> dict[str, Any]:
        body = _body(self._request(method, path, what=what, **kw))
        if not isinstance(body, dict):
            raise ConnectorError(f"OctoPrint at {self.url} sent no JSON object to {what}")
        return body

    def _request(self, method: str, path: str, *, what: str, **kw: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kw)
        except httpx.TimeoutException:
            raise ConnectorError(
                f"OctoPrint at {self.url} did not answer in time (trying to {what})"
            ) from None
        except httpx.TransportError as exc:
            raise ConnectorError(
                f"OctoPrint at {self.url} is unreachable (trying to {what}): {exc}"
            ) from None
        code = response.status_code
        if code < 400:
            return response
        detail = _detail(response)
        if code in (401, 403):
            raise ConnectorError(
                f"OctoPrint at {self.url} refused the API key (HTTP {code}) trying to {what}; "
                f"check {self.key_source}"
            )
        if code == 409:
            raise Conflict(f"OctoPrint at {self.url} is busy (HTTP 409) to {what}: {detail}")
        if code == 404:
            raise NotFound(f"OctoPrint at {self.url} has no such resource to {what}: {detail}")
        raise ConnectorError(f"OctoPrint at {self.url} failed to {what} (HTTP {code}): {detail}")


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {}


def _detail(response: httpx.Response) -> str:
    body = _body(response)
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])[:300]
    return response.text.strip()[:300] or response.reason_phrase


def _state(text: str, printer: dict[str, Any] | None) -> tuple[HostState, str]:
    """The host state from the job's state text (OctoPrint's `get_state_string`, read in the
    same answer as the progress), with the printer's error text when it has one."""
    lowered = text.lower()
    error = ""
    if printer is not None:
        error = str((printer.get("state") or {}).get("error") or "")
    if "error" in lowered:
        return HostState.ERROR, error or text
    if lowered.startswith(("printing", "sending file")):
        return HostState.PRINTING, ""
    if lowered.startswith("paused"):
        return HostState.PAUSED, ""
    if lowered.startswith(_BUSY_TEXTS):
        return HostState.BUSY, ""
    if lowered.startswith("operational"):
        ready = printer is None or (printer.get("state") or {}).get("flags", {}).get("ready", True)
        return (HostState.IDLE if ready else HostState.BUSY), ""
    if lowered.startswith(_OFFLINE_TEXTS) or printer is None:
        return HostState.OFFLINE, text
    return HostState.BUSY, text


def _temperatures(printer: dict[str, Any] | None) -> tuple[Temperature, ...]:
    if printer is None:
        return ()
    out: list[Temperature] = []
    for heater, value in sorted((printer.get("temperature") or {}).items()):
        if heater == "history" or not isinstance(value, dict) or value.get("actual") is None:
            continue
        target = value.get("target")
        out.append(
            Temperature(heater, float(value["actual"]), None if target is None else float(target))
        )
    return tuple(out)
