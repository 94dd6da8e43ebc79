import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { ContractFuture, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";
import { AI4I_SCHEMA, GatewayPolicy, ROLES, enumValue, sensorSchemaId } from "@triad/sdk";

/**
 * The Triad suite as Ignition modules, deployed AND configured (roles, committee, approved model, default
 * product), so a deployment is usable as soon as it finishes and resumes cleanly if interrupted.
 *
 * Parameters live in ignition/parameters/<network>.json under the module id ("Triad" on public networks,
 * "TriadLocal" on local ones). `npm run deploy` fills in `modelHash` from the shipped model (`npm run model:hash`).
 *
 * | parameter | default | meaning |
 * | --- | --- | --- |
 * | token | (Triad: required) | the ERC-20 of premiums, capital, payouts and prices |
 * | committeeMembers | (Triad: required; TriadLocal: accounts 5, 6, 7) | oracle committee members |
 * | committeeThreshold | 2 | signatures needed, a strict majority (k ≤ members < 2k) |
 * | modelHash / modelVersion / modelURI | (required) / "1.0.0" / "triad://models/ai4i-2020" | the approved AI model |
 * | treasury | deployer | receives protocol fees (pool and marketplace) |
 * | arbiter / guardian | deployer | human oversight of appeals / pausing |
 * | maxUtilisationBps / poolFeeBps | 8000 / 1000 | pool: lockable share of assets / fee on premiums |
 * | withdrawalCooldown | 259200 (3 days) | pool: seconds from a redeem request to its claim; at least the longest assessment + appeal window of the products (default product: 1 + 2 days) |
 * | marketFeeBps / marketMaxFeeBps | 250 / 1000 | marketplace fee and its immutable cap |
 * | product* | see below | the default product for `ai4i-2020/v1` devices (amounts in token base units) |
 * | productMaxAnchorDelay | 3600 (1 hour) | product: longest time from a reading's timestamp to its on-chain anchor |
 * | productIncidentWindowBefore / productIncidentWindowAfter | 600 / 900 | product: a claim's incident window around `incidentAt` (the shipped model's window), reserved per device |
 * | productGatewayPolicy | 0 (AnyAuthorised) | product: 0 accepts any gateway the device's owner authorised, 1 only an allowlist (`setProductGateway`) |
 * | mintPerAccount | (TriadLocal) 1,000,000 tokens | TestToken minted to each of the first 10 accounts |
 *
 * The deployer holds every admin role after deployment; hand them over with grantRole / renounceRole.
 */

/** Local accounts funded with TestToken by TriadLocal. */
export const FUNDED_ACCOUNTS = 10;
/** Local accounts that form the committee of TriadLocal (Hardhat's default mnemonic: test keys only). */
export const LOCAL_COMMITTEE_ACCOUNTS = [5, 6, 7] as const;

const DAY = 86_400;

function defineSuite(m: IgnitionModuleBuilder, token: ContractFuture<string>, committeeMembers: unknown) {
  const deployer = m.getAccount(0);
  const treasury = m.getParameter("treasury", deployer);

  const registry = m.contract("DeviceRegistry", [deployer]);
  const market = m.contract("DataMarketplace", [
    registry,
    token,
    deployer,
    treasury,
    m.getParameter("marketFeeBps", 250),
    m.getParameter("marketMaxFeeBps", 1000),
  ]);

  const committee = m.contract("OracleCommittee", [deployer, committeeMembers as string[], m.getParameter("committeeThreshold", 2)]);
  const modelHash = m.getParameter<string>("modelHash");
  const approveModel = m.call(committee, "approveModel", [
    modelHash,
    m.getParameter("modelVersion", "1.0.0"),
    m.getParameter("modelURI", "triad://models/ai4i-2020"),
  ]);

  const pool = m.contract("InsurancePool", [
    token,
    deployer,
    treasury,
    m.getParameter("maxUtilisationBps", 8000),
    m.getParameter("poolFeeBps", 1000),
    m.getParameter("withdrawalCooldown", 3 * DAY),
  ]);
  const claims = m.contract("ClaimsInsurance", [deployer, pool, committee, registry]);
  m.call(pool, "grantRole", [ROLES.CLAIMS_ROLE, claims], { id: "grant_claims_role" });
  const grantInsurer = m.call(claims, "grantRole", [ROLES.INSURER_ROLE, deployer], { id: "grant_insurer_role" });
  m.call(claims, "grantRole", [ROLES.ARBITER_ROLE, m.getParameter("arbiter", deployer)], { id: "grant_arbiter_role" });
  m.call(claims, "grantRole", [ROLES.GUARDIAN_ROLE, m.getParameter("guardian", deployer)], { id: "grant_guardian_role" });

  const createProduct = m.call(
    claims,
    "createProduct",
    [
      {
        maxCoverage: m.getParameter("productMaxCoverage", 10_000n * 10n ** 6n),
        deductible: m.getParameter("productDeductible", 100n * 10n ** 6n),
        claimDeposit: m.getParameter("productClaimDeposit", 10n * 10n ** 6n),
        premiumRateBps: m.getParameter("productPremiumRateBps", 500),
        waitingPeriod: m.getParameter("productWaitingPeriod", DAY),
        claimWindow: m.getParameter("productClaimWindow", 7 * DAY),
        assessmentWindow: m.getParameter("productAssessmentWindow", DAY),
        appealWindow: m.getParameter("productAppealWindow", 2 * DAY),
        minDuration: m.getParameter("productMinDuration", 7 * DAY),
        maxDuration: m.getParameter("productMaxDuration", 365 * DAY),
        maxAnchorDelay: m.getParameter("productMaxAnchorDelay", 3600),
        incidentWindowBefore: m.getParameter("productIncidentWindowBefore", 600),
        incidentWindowAfter: m.getParameter("productIncidentWindowAfter", 900),
        sensorSchema: sensorSchemaId(AI4I_SCHEMA),
        gatewayPolicy: m.getParameter("productGatewayPolicy", Number(enumValue(GatewayPolicy, "AnyAuthorised"))),
        active: true,
      },
    ],
    { id: "create_default_product", after: [grantInsurer] },
  );
  const productId = m.readEventArgument(createProduct, "ProductCreated", "productId", { id: "default_product_id" });
  m.call(claims, "setProductModel", [productId, modelHash, true], {
    id: "allow_model_for_default_product",
    after: [grantInsurer, approveModel],
  });

  return { registry, market, committee, pool, claims };
}

/** Public networks: the suite over an existing ERC-20 (parameter `token`). */
export default buildModule("Triad", (m) => {
  const token = m.contractAt("IERC20", m.getParameter<string>("token"), { id: "Token" });
  return { token, ...defineSuite(m, token, m.getParameter("committeeMembers")) };
});

/** Local networks: deploys the 6-decimal TestToken and funds the first accounts with it. */
export const TriadLocalModule = buildModule("TriadLocal", (m) => {
  const token = m.contract("TestToken", [m.getAccount(0)]);
  const mintPerAccount = m.getParameter("mintPerAccount", 1_000_000n * 10n ** 6n);
  for (let i = 0; i < FUNDED_ACCOUNTS; i++) {
    m.call(token, "mint", [m.getAccount(i), mintPerAccount], { id: `fund_account_${i}` });
  }
  const committeeMembers = LOCAL_COMMITTEE_ACCOUNTS.map((i) => m.getAccount(i));
  return { token, ...defineSuite(m, token, committeeMembers) };
});
