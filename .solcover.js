// solidity-coverage settings: mocks and test-only contracts are not product code.
module.exports = {
  skipFiles: ["test/", "interfaces/"],
  mocha: { timeout: 300000 },
};
