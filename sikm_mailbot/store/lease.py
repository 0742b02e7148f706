"""A named lease in the database: stops a second daemon on the same store from polling.

Works on any database (no file locks, no advisory locks). The holder renews it by
heartbeat; a lease not renewed in ``ttl`` seconds is free. A holder on this host whose
process is gone is taken over at once, so a daemon killed with SIGKILL can restart
without waiting for the lease to expire.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from sikm_mailbot.errors import BusyError, StorageError
from sikm_mailbot.store.models import Lease, utcnow

log = logging.getLogger(__name__)


class LeaseHeld(BusyError):
    """Another process holds the lease; the message says who."""


def _holder_alive(holder: str) -> bool:
    """Whether a holder string names a live process (unknown hosts count as alive)."""
    try:
        host, pid, _ = holder.split(":", 2)
        if host != socket.gethostname():
            return True
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True
    return True


class DbLease:
    """Acquire, renew and release one named lease."""

    def __init__(self, engine: Engine, name: str = "intake", ttl: float = 120.0) -> None:
        self.engine = engine
        self.name = name
        self.ttl = timedelta(seconds=ttl)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire(self) -> None:
        """Take the lease or raise LeaseHeld."""
        now = utcnow()
        with Session(self.engine) as s:
            row = s.get(Lease, self.name)
            if row is None:
                s.add(Lease(name=self.name, holder=self.holder, expires_at=now + self.ttl))
                try:
                    s.commit()
                    return
                except IntegrityError:
                    s.rollback()
                    row = s.get(Lease, self.name)
            assert row is not None
            expires = row.expires_at
            if expires.tzinfo is None:
                from datetime import UTC

                expires = expires.replace(tzinfo=UTC)
            free = row.holder == self.holder or expires < now or not _holder_alive(row.holder)
            if not free:
                raise LeaseHeld(
                    f"another sikm daemon ({row.holder}) is polling this store; "
                    f"its lease runs until {expires:%Y-%m-%d %H:%M:%S} UTC"
                )
            seen = row.holder
            result = s.execute(
                update(Lease)
                .where(Lease.name == self.name, Lease.holder == seen)
                .values(holder=self.holder, expires_at=now + self.ttl)
            )
            s.commit()
            if result.rowcount != 1:
                raise LeaseHeld("another sikm daemon took the lease at the same moment")

    def renew(self) -> bool:
        """Extend the lease; False when it was lost (then stop polling)."""
        with Session(self.engine) as s:
            result = s.execute(
                update(Lease)
                .where(Lease.name == self.name, Lease.holder == self.holder)
                .values(expires_at=utcnow() + self.ttl)
            )
            s.commit()
            return result.rowcount == 1

    def release(self) -> None:
        """Give the lease back (only if we hold it).

        On a disk that refuses the write the lease stays: it is taken over as soon as
        this process is gone, and the error that stopped the work is the one to tell.
        """
        try:
            with Session(self.engine) as s:
                s.execute(delete(Lease).where(Lease.name == self.name, Lease.holder == self.holder))
                s.commit()
        except StorageError as exc:
            log.debug("lease %s not released: %s", self.name, exc)
