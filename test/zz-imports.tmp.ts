const c0 = process.cpuUsage(); const t0 = performance.now();
await import('./helpers/test-app.ts');
await import('./helpers/test-database.ts');
const u = process.cpuUsage(c0);
console.log('imports cpu', ((u.user + u.system) / 1e6).toFixed(2), 'wall', ((performance.now() - t0) / 1000).toFixed(2));
