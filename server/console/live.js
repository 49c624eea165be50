// The live feed (/v1/events) for the signed-in user (being built).
export function startLive() {}
export function stopLive() {}
