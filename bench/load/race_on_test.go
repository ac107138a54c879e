//go:build race

package load

// raceEnabled: the race detector slows Pion several-fold, so the smoke
// tests then check that media flows, not how well.
const raceEnabled = true
