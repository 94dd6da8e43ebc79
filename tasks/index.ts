// The operator / user CLI: every task has help text (`npx hardhat help <task>`), validates its arguments with one
// clear error line, prints human output and accepts --json.
import "./devices";
import "./market";
import "./insurance";
import "./evidence";
import "./chain";
