-- 0002 calls (SQLite): calls from ring to end (SPEC §3.7) and the event stream's history.

-- A call from admission until it is recorded: live while `phase` is ringing or connected, then
-- finished (the record listed by getvoipcalllist). `deadline_at` is the next time something
-- happens by itself (ring timeout, time limit, a lost link's 20 s), NULL once finished.
CREATE TABLE calls (
    room_id          TEXT    NOT NULL PRIMARY KEY,
    device           TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    open_id          TEXT    NOT NULL,
    caller_name      TEXT    NOT NULL,
    listener_name    TEXT    NOT NULL,
    room_type        TEXT    NOT NULL CHECK (room_type IN ('voice', 'video')),
    business_type    INTEGER NOT NULL CHECK (business_type IN (0, 3)),
    ring_timeout_ms  INTEGER NOT NULL,
    time_limit_ms    INTEGER,
    phase            TEXT    NOT NULL CHECK (phase IN ('ringing', 'connected', 'ended', 'finished')),
    rang_at          INTEGER NOT NULL,
    connected_at     INTEGER,
    ended_at         INTEGER,
    ending           TEXT,
    seen             INTEGER NOT NULL,
    caller_lost_at   INTEGER,
    listener_lost_at INTEGER,
    deadline_at      INTEGER
) STRICT;
CREATE INDEX calls_live_by_device ON calls (device) WHERE phase IN ('ringing', 'connected');
CREATE INDEX calls_live_by_listener ON calls (open_id) WHERE phase IN ('ringing', 'connected');
CREATE INDEX calls_by_deadline ON calls (deadline_at) WHERE deadline_at IS NOT NULL;
CREATE INDEX calls_by_student ON calls (user_id, rang_at);

-- Call events per party ('d:' + device name, 'o:' + openId), in commit order: what the event
-- stream sends, and resumes from after a reconnect (Last-Event-ID = id). Kept 5 minutes.
CREATE TABLE call_events (
    id      INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    party   TEXT    NOT NULL,
    room_id TEXT    NOT NULL,
    body    TEXT    NOT NULL,
    at      INTEGER NOT NULL
) STRICT;
CREATE INDEX call_events_by_party ON call_events (party, id);
CREATE INDEX call_events_by_time ON call_events (at);
