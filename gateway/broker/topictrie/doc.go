// Package topictrie matches MQTT topics to subscriptions with a topic
// trie, generic over the subscriber: K identifies a subscriber (one
// subscription per subscriber and filter), V is what it subscribed with.
// A shared subscription ("$share/{name}/{filter}") joins a group kept at
// the node of its filter; a topic matches a group once, and the group's
// members are read without a lock.
//
// It owns the trie and the shared groups' member lists; it may import
// mqtt only. It has no lock: a Trie is not safe for concurrent use, its
// user serialises Subscribe, Unsubscribe and Collect (the broker's
// router.mu, shared for Collect). Group.Members and Group.Next are safe
// from any goroutine.
package topictrie
