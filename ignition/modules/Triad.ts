import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { ContractFuture, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";

/**
 * The Triad suite as Ignition modules. Parameters live in ignition/parameters/<network>.json under the module id
 * ("Triad" on public networks, "TriadLocal" on local ones):
 *
 * | parameter | default | meaning |
 * | --- | --- | --- |
 * | admin | deployer | receives every admin role |
 * | treasury | deployer | receives protocol fees |
 * | marketFeeBps / marketMaxFeeBps | 250 / 1000 | marketplace fee and its immutable cap |
 * | token | (Triad only) | the ERC-20 of premiums, capital, payouts and prices |
 * | mintPerAccount | (TriadLocal only) 1,000,000 tokens | TestToken minted to each of the first 10 accounts |
 */

/** Local accounts funded with TestToken by TriadLocal. */
export const FUNDED_ACCOUNTS = 10;

function defineSuite(m: IgnitionModuleBuilder, token: ContractFuture<string>) {
  const admin = m.getParameter("admin", m.getAccount(0));
  const treasury = m.getParameter("treasury", m.getAccount(0));

  const registry = m.contract("DeviceRegistry", [admin]);
  const market = m.contract("DataMarketplace", [
    registry,
    token,
    admin,
    treasury,
    m.getParameter("marketFeeBps", 250),
    m.getParameter("marketMaxFeeBps", 1000),
  ]);
  return { registry, market };
}

/** Public networks: the suite over an existing ERC-20 (parameter `token`). */
export default buildModule("Triad", (m) => {
  const token = m.contractAt("IERC20", m.getParameter<string>("token"), { id: "Token" });
  return { token, ...defineSuite(m, token) };
});

/** Local networks: deploys the 6-decimal TestToken and funds the first accounts with it. */
export const TriadLocalModule = buildModule("TriadLocal", (m) => {
  const token = m.contract("TestToken", [m.getAccount(0)]);
  const mintPerAccount = m.getParameter("mintPerAccount", 1_000_000n * 10n ** 6n);
  for (let i = 0; i < FUNDED_ACCOUNTS; i++) {
    m.call(token, "mint", [m.getAccount(i), mintPerAccount], { id: `fund_account_${i}` });
  }
  return { token, ...defineSuite(m, token) };
});
