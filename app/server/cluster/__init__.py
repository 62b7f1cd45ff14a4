"""Beyond one process: several servers sharing one Redis (set `PARAMLAB_REDIS_URL`).

`store`: the `Store` of every document in Redis. `leases`: one process trains
a session at a time. `node`: this process in the cluster (its control channel,
lease renewal, Redis health). `handover`: a session passing from one process to
another. `room_channels`: rooms across processes (feeds, publishers, room
messages, seats). `feed`: a room's frames published once by the process
training its session, and relayed to followers elsewhere; `room_link`: a room's
seats on every process; `http_proxy`: HTTP requests about a session answered by
the process training it.
Without a Redis URL none of this is imported and the server runs as one
process on SQLite, as before.
"""
