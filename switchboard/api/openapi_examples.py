"""Examples for /openapi.json: one HonkIO message delivered to one subscriber, as the admin
API shows it. tests/test_openapi.py checks each against its schema."""

from __future__ import annotations

EVENT_ID = "evt_01JDA8X5V0N3Q7R2T4W6Y8Z0AB"
LATE_EVENT_ID = "evt_01JDA8X5V1N3Q7R2T4W6Y8Z0AC"
RECEIPT_ID = "rcv_01JDA8X5V0K2M4P6R8T0V2X4Z6"
DELIVERY_ID = "dlv_01JDA8X5V0P1R3T5V7X9Z1B3D5"
SUBSCRIPTION_ID = "sub_01JD9Z0Q4C6E8G0J2M4P6R8T0V"
MESSAGE_ID = "msg_7Hq2Lx9Pz"
SINCE = "2026-11-22T00:00:00Z"
RECEIVED = "2026-11-22T05:00:01.204Z"
CURSOR = f"1795323601204000-{EVENT_ID}"
SECRET = "whsec_kY3u0m1mS8rW5xq2oZ9b4Vt7nF6pL0eA"  # noqa: S105 - an example, in no config

EVENT = {
    "id": EVENT_ID, "type": "message.delivered", "vendor": "honkio",
    "vendor_event_id": "evt_9f2c1a7e3b", "occurred_at": "2026-11-22T05:00:00Z",
    "received_at": RECEIVED, "sequence": 2,
    "data": {"message_id": MESSAGE_ID, "direction": "outbound", "status": "delivered",
             "vendor_status": "delivered", "from": None, "to": "+16135550199", "country": "CA",
             "text": None, "parts": None, "error_code": None, "reason": None, "permanent": None,
             "account_id": "acc_01HXYZ4B5C6D7E8F9G0H1J2K3L"},
    "message_id": MESSAGE_ID, "status": "delivered", "receipt_id": RECEIPT_ID,
    "disposition": "fanout",
}
EVENT_PAGE = {"events": [EVENT], "next_cursor": CURSOR}
DELIVERY = {
    "id": DELIVERY_ID, "event_id": EVENT_ID, "subscription_id": SUBSCRIPTION_ID,
    "handler": None, "state": "dead", "attempt_count": 8,
    "next_attempt_at": "2026-11-24T08:41:09Z", "replay": False, "created_at": RECEIVED,
    "finished_at": "2026-11-24T08:41:09.310Z", "last_error": "HTTP 503",
}
ATTEMPT = {"id": 8, "started_at": "2026-11-24T08:41:09Z", "duration_ms": 310.4,
           "status_code": 503, "error": None, "response_body": "upstream unavailable"}
EVENT_DETAIL = EVENT | {
    "raw": {"id": "evt_9f2c1a7e3b", "type": "message.delivered",
            "created": "2026-11-22T05:00:00Z", "account_id": "acc_01HXYZ4B5C6D7E8F9G0H1J2K3L",
            "data": {"message_id": MESSAGE_ID, "to": "+16135550199", "status": "delivered"}},
    "receipt": {"id": RECEIPT_ID, "vendor": "honkio", "received_at": RECEIVED,
                "method": "POST", "content_type": "application/json", "query_string": None,
                "state": "parsed", "error": None,
                "body": '{"id": "evt_9f2c1a7e3b", "type": "message.delivered", ...}',
                "body_encoding": "utf-8", "request_id": "2b1f0c9e7d5a4b3c"},
    "deliveries": [DELIVERY | {"attempts": [ATTEMPT]}],
}
DELIVERY_PAGE = {"deliveries": [DELIVERY | {"event_type": "message.delivered",
                                            "vendor": "honkio"}],
                 "next_cursor": None}
RETRIED = DELIVERY | {"state": "pending", "attempt_count": 0,
                      "next_attempt_at": "2026-11-24T09:15:00Z", "finished_at": None}
NEW_SUBSCRIPTION = {"url": "https://billing.example.com/sms-events",
                    "event_types": ["message.*"], "vendors": ["honkio", "canary"],
                    "description": "billing"}
SUBSCRIPTION = {"id": SUBSCRIPTION_ID, **NEW_SUBSCRIPTION, "active": True,
                "disabled_reason": None, "failing_since": None,
                "created_at": "2026-11-21T16:30:00Z", "deleted_at": None}
SUBSCRIPTION_CHANGES = {"event_types": ["message.delivered", "message.failed"],
                        "active": True}
DELETED = SUBSCRIPTION | {"active": False, "disabled_reason": "deleted",
                          "deleted_at": "2026-11-24T09:15:00Z"}
ROTATED = {"id": SUBSCRIPTION_ID, "secret": SECRET,
           "previous_secret_valid_until": "2026-11-25T09:15:00Z"}
MESSAGE = {"vendor": "honkio", "message_id": MESSAGE_ID, "status": "delivered",
           "updated_at": RECEIVED, "event_id": EVENT_ID, "conflict_status": None,
           "conflict_event_id": None,
           "history": [EVENT, EVENT | {
               "id": LATE_EVENT_ID, "type": "message.sent", "status": "sent",
               "data": EVENT["data"] | {"status": "sent", "vendor_status": "sent"},
               "disposition": "superseded"}]}
PROVIDER_STATS = {
    "since": "2026-11-15T05:00:00Z", "until": RECEIVED,
    "providers": [{
        "vendor": "transmitsms", "country": "AU", "messages": 6, "delivered": 4, "failed": 1,
        "pending": 1, "overdue": 1, "delivery_rate": 0.8, "reasons": {"invalid_number": 1},
        "time_to_deliver_seconds": {"p50": 120.0, "p95": 552.0},
        "time_to_deliver_samples": 3}],
}
REPLAY = {"filter": {"vendor": "honkio", "status": "delivered", "since": SINCE},
          "subscription_id": SUBSCRIPTION_ID, "dry_run": True}
WEBHOOK_ANSWER = {"status": "accepted", "event_ids": [EVENT_ID]}
BAD_REQUEST = {"error": {"code": "invalid_request", "field": "status",
                         "message": "status must be one of: accepted, delivered, ..."}}
UNAUTHORIZED = {"error": {"code": "unauthorized", "field": None,
                          "message": "send Authorization: Bearer <SWITCHBOARD_ADMIN_TOKEN>"}}
NOT_RETRYABLE = {"error": {"code": "not_retryable", "field": "id",
                           "message": f"delivery {DELIVERY_ID} is pending; only dead or "
                                      "cancelled deliveries can be retried"}}


def not_found(what: str) -> dict:
    return {"error": {"code": "not_found", "field": "id", "message": f"no {what} ..."}}
