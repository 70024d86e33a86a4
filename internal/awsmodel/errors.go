package awsmodel

import "fmt"

// APIError is an AWS API error as the AWS provider reports it: the error
// code, the message, the HTTP status. The lab and the unit tests' mocks
// both use it, so the two report AWS's refusals alike.
func APIError(code, format string, args ...any) error {
	return fmt.Errorf("%s: %s\n\tstatus code: 400 (vpclink lab)", code, fmt.Sprintf(format, args...))
}
