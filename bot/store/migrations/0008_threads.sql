-- thread: each post of the subscription gets a public thread named after its paper, for
-- discussion. The thread is an outbox row of kind 'thread' (0007), queued in the transaction
-- that records the post as sent, so it is created once whatever happens in between.
ALTER TABLE subscriptions ADD COLUMN thread INTEGER NOT NULL DEFAULT 0 CHECK (thread IN (0, 1));
