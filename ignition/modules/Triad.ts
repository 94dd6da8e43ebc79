import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The Triad suite. Parameters (ignition/parameters/<network>.json, module "Triad"):
 * - admin: receives the admin roles (default: the deployer).
 */
export default buildModule("Triad", (m) => {
  const admin = m.getParameter("admin", m.getAccount(0));
  const registry = m.contract("DeviceRegistry", [admin]);
  return { registry };
});
