/**
 * The deployment the benchmark measures (`npm run bench`): the suite as users get it (`deployTriad`, Ignition, local
 * TestToken), plus what the measurements need on top of it — pool capital, a parametric product (zero appeal
 * window: a finalising verdict pays in its own transaction) and the committee members' keys as local wallets (the
 * daemon signs with a local key, as `ORACLE_PRIVATE_KEY` does).
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { HDNodeWallet, Wallet, getAddress, id } from "ethers";
import { buyPolicy, depositToPool, findEvent, registerDevice } from "@triad/sdk/node";
import { mapLimit } from "@triad/oracle";
import {
  LOCAL_COMMITTEE_ACCOUNTS,
  PARAMETRIC_PRODUCT,
  connection,
  deployTriad,
  ethers,
  networkHelpers,
  type TriadDeployment,
} from "@triad/devkit";

const { time } = networkHelpers;

/** One whole unit of the 6-decimal TestToken. */
export const UNIT = 10n ** 6n;
/** LP capital deposited into the pool: 80 % of it can back policies. */
const LP_CAPITAL = 900_000n * UNIT;
/** Transactions of the set-up in flight at once (automine mines each as it arrives). */
const SETUP_CONCURRENCY = 8;

export interface BenchSuite {
  triad: TriadDeployment;
  deployer: HardhatEthersSigner;
  /** Device owner, policy holder and seller. */
  holder: HardhatEthersSigner;
  buyer: HardhatEthersSigner;
  /** The committee members (accounts 5, 6, 7) as local wallets connected to the in-process chain. */
  members: Wallet[];
  /** The deployment's default product (2-day appeal window: payouts at `settle`). */
  standardProductId: bigint;
  /** PARAMETRIC_PRODUCT of the insurance tests: no appeal window, no deductible, 50 tUSD deposit. */
  parametricProductId: bigint;
  addresses: { claims: string; registry: string; committee: string };
}

/** The private keys of Hardhat's in-process accounts (its HD mnemonic), as wallets. */
async function accountWallet(index: number): Promise<Wallet> {
  const accounts = connection.networkConfig.accounts;
  if (connection.networkConfig.type !== "edr-simulated" || Array.isArray(accounts) || typeof accounts !== "object") {
    throw new Error("the benchmark runs on Hardhat's in-process network with its default HD accounts");
  }
  const { mnemonic, path, initialIndex, passphrase } = accounts;
  const node = HDNodeWallet.fromPhrase(await mnemonic.get(), await passphrase.get(), `${path}/${initialIndex + index}`);
  return new Wallet(node.privateKey, ethers.provider);
}

export async function setupBenchSuite(): Promise<BenchSuite> {
  const triad = await deployTriad();
  const signers = await ethers.getSigners();
  const [deployer, holder, buyer, lp] = signers;
  const members = await Promise.all(
    LOCAL_COMMITTEE_ACCOUNTS.map(async (i) => {
      const wallet = await accountWallet(i);
      if (wallet.address !== signers[i].address) throw new Error(`account ${i}: derived key does not match ${signers[i].address}`);
      return wallet;
    }),
  );
  const { claims, pool, token, committee, registry } = triad;
  await depositToPool(pool.connect(lp), token.connect(lp), LP_CAPITAL);
  const created = await (await claims.connect(deployer).createProduct(PARAMETRIC_PRODUCT)).wait();
  const parametricProductId = findEvent(claims, created!, "ProductCreated").args.productId as bigint;
  await (await claims.connect(deployer).setProductModel(parametricProductId, triad.modelHash, true)).wait();
  // One approval for every premium and claim deposit of the run (the SDK actions then skip theirs).
  await (await token.connect(holder).approve(await claims.getAddress(), ethers.MaxUint256)).wait();
  return {
    triad,
    deployer,
    holder,
    buyer,
    members,
    standardProductId: triad.productId,
    parametricProductId,
    addresses: {
      claims: getAddress(await claims.getAddress()),
      registry: getAddress(await registry.getAddress()),
      committee: getAddress(await committee.getAddress()),
    },
  };
}

/** A deterministic device key of the benchmark. */
export function benchDeviceKey(tag: string, i: number): Wallet {
  return new Wallet(id(`triad/bench/device/${tag}/${i}`));
}

/**
 * Registers `count` devices to the holder and buys each a policy of `productId` (SDK actions), then lets the
 * product's waiting period pass, so incidents from now on are covered.
 */
export async function insureDevices(
  s: BenchSuite,
  args: { count: number; tag: string; productId: bigint; coverage: bigint; durationSeconds?: bigint },
): Promise<{ device: Wallet; policyId: bigint }[]> {
  const registry = s.triad.registry.connect(s.holder);
  const claims = s.triad.claims.connect(s.holder);
  const token = s.triad.token.connect(s.holder);
  const keys = Array.from({ length: args.count }, (_, i) => benchDeviceKey(args.tag, i));
  await mapLimit(keys, SETUP_CONCURRENCY, (device) => registerDevice(registry, { deviceKey: device, validForSeconds: 86_400 }));
  // Policies one at a time: a purchase's gas depends on what the purchases before it stored (on a fresh deployment the
  // fourth costs about 2,600 more than the second), so an estimate made while other purchases are in flight can fall
  // short and the purchase run out of gas.
  const insured: { device: Wallet; policyId: bigint }[] = [];
  for (const device of keys) {
    const { policyId } = await buyPolicy(claims, token, {
      productId: args.productId,
      device: device.address,
      coverage: args.coverage,
      durationSeconds: args.durationSeconds ?? 30n * 86_400n,
    });
    insured.push({ device, policyId });
  }
  const product = await s.triad.claims.getProduct(args.productId);
  await time.increase(product.waitingPeriod + 2n * 3_600n);
  return insured;
}

/**
 * Configures the committee so that `k` signatures (from `s.members.slice(0, k)`) decide, always as a strict majority
 * (audit I-4; the deployer is the committee manager): 1 → member 0 alone (1 of 1), 2 → 2 of 3 (the deployment's),
 * 3 → 3 of 3. One `reconfigure` call: one configuration version, as a threshold change was before.
 */
export async function setCommittee(s: BenchSuite, k: 1 | 2 | 3): Promise<void> {
  const committee = s.triad.committee;
  const wanted = (k === 1 ? s.members.slice(0, 1) : s.members).map((m) => m.address);
  const current = [...(await committee.members())]; // a plain array: filtering an ethers Result gives a read-only one
  const removals = current.filter((a) => !wanted.includes(a));
  const additions = wanted.filter((a) => !current.includes(a));
  if (removals.length === 0 && additions.length === 0 && Number(await committee.threshold()) === k) return;
  await (await committee.connect(s.deployer).reconfigure(removals, additions, k)).wait();
}
