// A picker over the organisation tree (being built).
export {};
