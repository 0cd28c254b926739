// Run once by the official MongoDB image, on an empty data volume (docker-entrypoint-initdb.d):
// one user per service, who may read and write its own database and nothing else. The
// passwords come from the env file (DEH_<SERVICE>_MONGO_PASSWORD), as do the services' URLs.
for (const service of ["membership", "practices", "events", "monitoring"]) {
  db.getSiblingDB("admin").createUser({
    user: service,
    pwd: process.env[`DEH_${service.toUpperCase()}_MONGO_PASSWORD`],
    roles: [{ role: "readWrite", db: service }],
  });
}
