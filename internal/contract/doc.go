// Package contract reads an MSP–customer contract (PDF text layer, DOCX,
// Markdown or plain text) and finds the thirteen clauses the advisory asks
// for (estate.Clauses) by phrase patterns shipped as data, reporting each
// as present, weak or absent with the quoted sentence and its page.
//
// Reading is pure Go and bounded: a file over MaxFileBytes, a PDF without a
// text layer (a scan), an encrypted or corrupt file each give an error that
// names the file. Nothing is downloaded and no model runs: the patterns in
// clauses.yaml (extendable with a file of the same shape) are the whole
// judgement, and a reviewer confirms or corrects each finding.
package contract
