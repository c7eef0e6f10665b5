"""What the store's tests share: a clock they set by hand and a contact row."""

from __future__ import annotations

from dialguard.store import NewContact, Store


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def contact(number: str, **kw: object) -> NewContact:
    return NewContact(number=number, region="GB", **kw)  # type: ignore[arg-type]


async def contact_id(store: Store, number: str = "+442079460000") -> int:
    """Insert one contact into ``spring``; its id."""
    await store.contacts.insert("spring", [contact(number)])
    return (await store.contacts.due("spring", 1e12, 1))[0].id
