import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { DeploymentParameters } from "@nomicfoundation/ignition-core";
import TriadModule, { TriadLocalModule } from "../ignition/modules/Triad.ts";
import { connection, ethers, ignition, inProcess } from "./network.ts";
import type { ClaimsInsurance, DataMarketplace, DeviceRegistry, InsurancePool, OracleCommittee, TestToken } from "@triad/contracts";
import { TriadError, type DeploymentRecord } from "@triad/sdk";
import { saveDeployment } from "@triad/sdk/node";
import { shippedModelHash } from "./model.ts";

/** Chains where the suite deploys its own TestToken and funds local accounts. */
export const LOCAL_CHAIN_IDS = new Set([31337]);

export interface TriadDeployment {
  chainId: number;
  local: boolean;
  registry: DeviceRegistry;
  market: DataMarketplace;
  committee: OracleCommittee;
  pool: InsurancePool;
  claims: ClaimsInsurance;
  /** The deployment's ERC-20 (TestToken on local chains; typed as TestToken for its ERC-20 + mint surface). */
  token: TestToken;
  /** The approved model hash and the default product it may decide. */
  modelHash: string;
  productId: bigint;
  record: DeploymentRecord;
}

/** Module parameters of `network`: ignition/parameters/<network>.json, if present. */
export function loadParameters(network: string): DeploymentParameters {
  const file = path.join(import.meta.dirname, "..", "ignition", "parameters", `${network}.json`);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new TriadError(`ignition/parameters/${network}.json is not valid JSON`, "BAD_PARAMETERS", { file }, { cause });
  }
}

/**
 * A local node forgets everything when it restarts, but Ignition's journal for its chain id stays on disk and would
 * make the next deployment "resume" onto contracts that no longer exist. When any recorded address has no code,
 * the journal is stale: remove it so the suite is deployed afresh. Returns true when it did.
 */
export async function discardStaleLocalJournal(chainId: number): Promise<boolean> {
  const dir = path.join(import.meta.dirname, "..", "ignition", "deployments", `chain-${chainId}`);
  const file = path.join(dir, "deployed_addresses.json");
  if (!existsSync(file)) return false;
  const addresses = Object.values(JSON.parse(readFileSync(file, "utf8")) as Record<string, string>);
  for (const address of addresses) {
    if ((await ethers.provider.getCode(address)) === "0x") {
      rmSync(dir, { recursive: true, force: true });
      return true;
    }
  }
  return false;
}

/**
 * Deploys (or, on a persistent network, resumes) and configures the suite with its Ignition module, and writes the
 * deployment record `deployments/<chainId>.json` where the SDK, the CLI and the oracle find it. Hardhat's
 * in-process chain is thrown away when the process ends, so its record is not written.
 */
export async function deployTriad(): Promise<TriadDeployment> {
  const [deployer] = await ethers.getSigners();
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const local = LOCAL_CHAIN_IDS.has(chainId);
  const moduleId = local ? "TriadLocal" : "Triad";
  if (local && !inProcess && (await discardStaleLocalJournal(chainId))) {
    console.log(`Note: the local chain was restarted; discarded the stale Ignition journal of chain ${chainId}.`);
  }
  const startBlock = await ethers.provider.getBlockNumber();
  const fromFile = loadParameters(connection.networkName);
  const own = { ...(fromFile[moduleId] ?? {}) };
  own.modelHash ??= await shippedModelHash();
  if (!local) {
    for (const required of ["token", "committeeMembers"]) {
      if (own[required] === undefined) {
        throw new TriadError(
          `ignition/parameters/${connection.networkName}.json must set ${moduleId}.${required} on a public network`,
          "BAD_PARAMETERS",
        );
      }
    }
  }
  const parameters: DeploymentParameters = { ...fromFile, [moduleId]: own };
  const options = { parameters, displayUi: false } as const;
  const deployed = local ? await ignition.deploy(TriadLocalModule, options) : await ignition.deploy(TriadModule, options);

  const at = async <T>(name: string, future: { getAddress(): Promise<string> }) =>
    (await ethers.getContractAt(name, await future.getAddress(), deployer)) as unknown as T;
  const registry = await at<DeviceRegistry>("DeviceRegistry", deployed.registry);
  const market = await at<DataMarketplace>("DataMarketplace", deployed.market);
  const committee = await at<OracleCommittee>("OracleCommittee", deployed.committee);
  const pool = await at<InsurancePool>("InsurancePool", deployed.pool);
  const claims = await at<ClaimsInsurance>("ClaimsInsurance", deployed.claims);
  const token = await at<TestToken>("TestToken", deployed.token);
  const productId = await claims.productCount();

  const record: DeploymentRecord = {
    chainId,
    startBlock,
    contracts: {
      DeviceRegistry: await registry.getAddress(),
      DataMarketplace: await market.getAddress(),
      OracleCommittee: await committee.getAddress(),
      InsurancePool: await pool.getAddress(),
      ClaimsInsurance: await claims.getAddress(),
      ...(local ? { TestToken: await token.getAddress() } : {}),
    },
    token: await token.getAddress(),
    updatedAt: new Date().toISOString(),
  };
  if (!inProcess) saveDeployment(record);
  return { chainId, local, registry, market, committee, pool, claims, token, modelHash: String(own.modelHash), productId, record };
}
