-- 0002 calls (PostgreSQL): as migrations/sqlite/0002_calls.sql, except that an event's id
-- counts per party (the party's previous id + 1, taken in the writing transaction) instead of
-- one sequence: with several writers a sequence number is taken before commit, so a stream
-- could see id 11 committed before 10 and resume past 10. Per party, two transactions writing
-- events for one party conflict (one of them is retried), so a party's ids appear in order.

CREATE TABLE calls (
    room_id          TEXT   NOT NULL PRIMARY KEY,
    device           TEXT   NOT NULL,
    user_id          TEXT   NOT NULL,
    open_id          TEXT   NOT NULL,
    caller_name      TEXT   NOT NULL,
    listener_name    TEXT   NOT NULL,
    room_type        TEXT   NOT NULL CHECK (room_type IN ('voice', 'video')),
    business_type    BIGINT NOT NULL CHECK (business_type IN (0, 3)),
    ring_timeout_ms  BIGINT NOT NULL,
    time_limit_ms    BIGINT,
    phase            TEXT   NOT NULL CHECK (phase IN ('ringing', 'connected', 'ended', 'finished')),
    rang_at          BIGINT NOT NULL,
    connected_at     BIGINT,
    ended_at         BIGINT,
    ending           TEXT,
    seen             BIGINT NOT NULL,
    caller_lost_at   BIGINT,
    listener_lost_at BIGINT,
    deadline_at      BIGINT
);
CREATE INDEX calls_live_by_device ON calls (device) WHERE phase IN ('ringing', 'connected');
CREATE INDEX calls_live_by_listener ON calls (open_id) WHERE phase IN ('ringing', 'connected');
CREATE INDEX calls_by_deadline ON calls (deadline_at) WHERE deadline_at IS NOT NULL;
CREATE INDEX calls_by_student ON calls (user_id, rang_at);

CREATE TABLE call_events (
    party   TEXT   NOT NULL,
    id      BIGINT NOT NULL,
    room_id TEXT   NOT NULL,
    body    TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (party, id)
);
CREATE INDEX call_events_by_time ON call_events (at);
