"""The gateway's HTTP API: send a message, find one we may have sent."""

from __future__ import annotations

import httpx

from canales import DeliveryError, DeliveryOutcomeUnknown, DeliveryResult, OutboundDelivery


class Gateway:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.client = httpx.AsyncClient(timeout=5, headers={"authorization": f"Bearer {token}"})

    async def close(self) -> None:
        await self.client.aclose()

    async def ping(self) -> bool:
        return (await self.client.get(f"{self.url}/health")).status_code == 200

    async def find(self, reference: str) -> str | None:
        """The gateway's id of the message sent with ``reference``, if any."""
        response = await self.client.get(f"{self.url}/messages", params={"reference": reference})
        found = response.json().get("messages", [])
        return found[0]["id"] if found else None

    async def send(self, outbound: OutboundDelivery) -> DeliveryResult:
        if outbound.outcome_unknown:
            # An earlier attempt may have gone through: look before sending again.
            existing = await self.find(outbound.key)
            if existing:
                return DeliveryResult(external_id=existing)
        payload = {"to": outbound.contact.external_id, "text": outbound.message.text, "reference": outbound.key}
        try:
            response = await self.client.post(f"{self.url}/messages", json=payload)
        except httpx.TimeoutException as exc:
            raise DeliveryOutcomeUnknown("the gateway did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"gateway unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise DeliveryError(f"gateway answered {response.status_code}")
        if response.status_code >= 400:
            raise DeliveryError(f"gateway refused the message: {response.text[:200]}", retry=False)
        return DeliveryResult(external_id=response.json()["id"])
