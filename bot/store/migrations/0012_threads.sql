-- thread: each post of the subscription gets a public thread named after its paper, for
-- discussion. The thread is an outbox row of kind 'thread' (0007), queued in the transaction
-- that records the post as sent, so it is created once whatever happens in between.
ALTER TABLE subscriptions ADD COLUMN thread INTEGER NOT NULL DEFAULT 0 CHECK (thread IN (0, 1));
-- forum: the channel is a forum, where each paper becomes a forum post (a thread whose first
-- message is the card) instead of a channel message. Set from the channel at each subscribe.
ALTER TABLE subscriptions ADD COLUMN forum INTEGER NOT NULL DEFAULT 0 CHECK (forum IN (0, 1));
