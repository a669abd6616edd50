"""The broker: the one place that knows whether it is Redis or RabbitMQ (``LAB_BROKER_URL``'s scheme).

:func:`open_broker` gives the :class:`~producer.broker.base.Broker` the producer asks about queue
depth, unacknowledged messages, purges, lost tasks and the server's CPU; :func:`require_broker` says
in one line why a broker does not answer. Messages themselves go through Celery and kombu on either.
"""

from __future__ import annotations

import redis
from kombu import Connection
from kombu.exceptions import OperationalError

from config.settings import LabSettings
from producer.broker.base import Broker, BrokerKind, QueueCounts, Whereabouts
from producer.errors import LabError

#: Where the right credentials are when RabbitMQ refuses them.
CREDENTIALS_HINT = (
    "check LAB_BROKER_URL; the stack's private node: the URL `producer stack up` printed, or its node.json"
)

__all__ = ["Broker", "BrokerKind", "QueueCounts", "Whereabouts", "as_broker", "broker_kind", "open_broker"]


def broker_kind(settings: LabSettings) -> BrokerKind:
    """``rabbitmq`` for an AMQP URL, else ``redis``."""
    return "rabbitmq" if settings.broker_is_amqp else "redis"


def open_broker(settings: LabSettings) -> Broker:
    """The broker at ``LAB_BROKER_URL`` (connections are opened on first use)."""
    if settings.broker_is_amqp:
        from producer.broker.amqp_broker import AmqpBroker
        from producer.broker.amqp_unacked import unacked_source

        return AmqpBroker(settings.broker_url, settings.broker_connect_timeout_s, unacked_source(settings))
    from producer.broker.redis_broker import RedisBroker

    return RedisBroker.from_url(settings.broker_url, settings.broker_connect_timeout_s)


def as_broker(broker: Broker | redis.Redis) -> Broker:
    """A :class:`Broker` for either a Broker or a plain redis-py client (the Redis broker's own)."""
    if isinstance(broker, redis.Redis):
        from producer.broker.redis_broker import RedisBroker

        return RedisBroker(broker)
    return broker


def require_broker(settings: LabSettings) -> None:
    """Raise a one-line :class:`LabError` unless the broker at ``LAB_BROKER_URL`` answers (exit 2 if malformed)."""
    if not settings.broker_is_amqp:
        from producer.processes.redis_server import require_redis

        require_redis(settings.broker_url, settings.broker_connect_timeout_s)
        return
    from producer.processes.redis_server import redact

    url = redact(settings.broker_url)
    try:
        with Connection(settings.broker_url, connect_timeout=settings.broker_connect_timeout_s) as connection:
            connection.connect()
    except OperationalError as error:
        text = str(error)
        if "ACCESS_REFUSED" in text or "AccessRefused" in text or "403" in text:
            raise LabError(f"RabbitMQ at {url} refused the credentials ({CREDENTIALS_HINT})") from None
        raise LabError(f"cannot reach RabbitMQ at {url}: {text} (is the stack up? `producer stack up`)") from None
    except (ValueError, TypeError) as error:
        raise LabError(f"malformed AMQP URL {url}: {error}", exit_code=2) from None
    except Exception as error:  # py-amqp's own: access refused, a broken handshake
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "ACCESS_REFUSED" in reason or "AccessRefused" in type(error).__name__:
            raise LabError(f"RabbitMQ at {url} refused the credentials ({CREDENTIALS_HINT})") from None
        raise LabError(f"cannot reach RabbitMQ at {url}: {reason}") from None
