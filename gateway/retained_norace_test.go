//go:build !race

package gateway

// retainedFloodN is the number of retained messages TestRetainedFlood
// stores (retained_race_test.go: fewer under the race detector).
const retainedFloodN = 100000
