//go:build race

package detect

// raceEnabled lets slow property tests run fewer rounds under -race.
const raceEnabled = true
