import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** The 6-decimal TestToken, for local networks only (it stands in for a stablecoin). */
export default buildModule("TestToken", (m) => {
  const owner = m.getParameter("owner", m.getAccount(0));
  const token = m.contract("TestToken", [owner]);
  return { token };
});
