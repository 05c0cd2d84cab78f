export { collectGarbage, startBackgroundGc, GcSkipped, type GcOptions, type GcObserver, type BackgroundGc } from './collect.js';
export { planGc, executeGc, IN_FLIGHT_MS, type GcPlan, type GcPolicy, type RemovalReason } from './gc.js';
export { containersInUse, parseAppliedProfiles, profileFilesIn, type InUse, type ContainerUse, type AppliedProfile } from './containers-in-use.js';
export { readInventory, storeTotals, blobClosure, type Inventory, type StoredItem, type StoreTotals } from './inventory.js';
export { ProfileUses, LAST_USE_RESOLUTION_MS, type ProfileUse } from './profile-uses.js';
