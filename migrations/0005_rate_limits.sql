-- Fixed-window counters for actions that cost something or reveal something (registration attempts,
-- strength checks; later SMS sends), shared by every server copy.
create table rate_limits (
  key text primary key,
  window_start timestamptz not null,
  hits integer not null
);
