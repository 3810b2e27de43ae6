-- Every login page (and e-mail confirmation step) looks up the flow of its interaction by
-- interaction_uid, and flows are kept after they finish (one per registration at least). Without
-- an index that lookup reads the whole table: 30 ms and 2,128 buffers at 100,000 flows, growing
-- with every citizen who registers (docs/benchmarks.md); with it, 3 buffers.
create index flows_interaction on flows (interaction_uid) where interaction_uid is not null;
