import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.KeyConstraintError;
import io.netty.channel.Channel;
import java.util.List;
import org.h2.mvstore.MVStore;

/**
 * Starts mongo-java-server on a chosen address with a persistent H2 file, durable per write.
 *
 * The bundled main binds only localhost:27017 and reports wire version 8 (MongoDB 4.2);
 * PyMongo 4.18 and later refuse anything below 9 (MongoDB 4.4), so this launcher reports 4.4.
 *
 * H2's MVStore commits in the background about once a second, so a killed server loses the
 * writes it had already acknowledged. Here every command that changed the store commits it and
 * forces the file to disk before its reply is sent (see docs/decisions/0002).
 *
 * mongo-java-server uses a unique index only for a query on exactly its keys: {_id: x} uses the
 * _id index, {_id: x, status: "active"} scans the whole collection. Here a unique index also
 * serves a query that names its keys among others; the other conditions are then checked on the
 * documents it finds, as before.
 *
 * Usage: java -cp 'lib/*' MongoLauncher.java HOST PORT DATA_FILE [durable|background]
 */
public class MongoLauncher {
    /** The server version announced in the handshake; see docs/decisions/0002. */
    enum Reported implements MongoVersion {
        MONGO_4_4;

        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    }

    /** H2 with indexes that serve wider queries and, if `durable`, a commit per write. */
    static class HubH2Backend extends H2Backend {
        private final MVStore store;
        private final boolean durable;

        HubH2Backend(MVStore store, boolean durable) {
            super(store);
            this.store = store;
            this.durable = durable;
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            return new IndexedH2Database(databaseName, getMvStore(), getCursorRegistry());
        }

        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            Document reply = super.handleCommand(channel, database, command, query);
            if (durable) {
                persist();
            }
            return reply;
        }

        /**
         * Reads leave nothing unsaved. Concurrent writers share one commit: a writer that finds
         * its change already stored waits here until that commit's sync has finished too.
         */
        private synchronized void persist() {
            if (store.hasUnsavedChanges()) {
                store.commit();
                store.sync();
            }
        }
    }

    static class IndexedH2Database extends H2Database {
        IndexedH2Database(String name, MVStore store, CursorRegistry cursors) {
            super(name, store, cursors);
        }

        @Override
        protected Index<Object> openOrCreateUniqueIndex(
                String collection, String name, List<IndexKey> keys, boolean sparse) {
            return new WiderQueryIndex<>(super.openOrCreateUniqueIndex(collection, name, keys, sparse), sparse);
        }
    }

    /** A unique index that also serves queries naming its keys among other conditions. */
    static class WiderQueryIndex<P> extends Index<P> {
        private final Index<P> index;

        WiderQueryIndex(Index<P> index, boolean sparse) {
            super(index.getName(), index.getKeys(), sparse);
            this.index = index;
        }

        /** The query's conditions on this index's keys alone, or null if it lacks one of them. */
        private Document onKeys(Document query) {
            Document narrowed = new Document();
            for (String key : keySet()) {
                if (!query.containsKey(key)) {
                    return null;
                }
                narrowed.put(key, query.get(key));
            }
            return narrowed;
        }

        @Override
        public boolean canHandle(Document query) {
            Document narrowed = onKeys(query);
            return narrowed != null && index.canHandle(narrowed);
        }

        @Override
        public Iterable<P> getPositions(Document query) {
            return index.getPositions(onKeys(query));
        }

        @Override public P getPosition(Document document) { return index.getPosition(document); }
        @Override public void checkAdd(Document document, MongoCollection<P> collection) { index.checkAdd(document, collection); }
        @Override public void add(Document document, P position, MongoCollection<P> collection) { index.add(document, position, collection); }
        @Override public P remove(Document document) { return index.remove(document); }
        @Override public long getCount() { return index.getCount(); }
        @Override public long getDataSize() { return index.getDataSize(); }
        @Override public void checkUpdate(Document old, Document updated, MongoCollection<P> collection) { index.checkUpdate(old, updated, collection); }
        @Override public void drop() { index.drop(); }
        @Override public boolean isUnique() { return index.isUnique(); }

        @Override
        public void updateInPlace(Document old, Document updated, P position, MongoCollection<P> collection)
                throws KeyConstraintError {
            index.updateInPlace(old, updated, position, collection);
        }
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String dataFile = args[2];
        boolean durable = args.length < 4 || args[3].equals("durable");
        MVStore store = MVStore.open(dataFile);
        H2Backend backend = new HubH2Backend(store, durable);
        backend.version(Reported.MONGO_4_4);
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        // A clean stop (SIGTERM) closes the store, so the last writes reach the file.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            backend.close();
            System.out.println("mongo-java-server stopped");
        }));
        String mode = durable ? "commits and syncs every write" : "commits in the background";
        System.out.println("mongo-java-server listening on " + host + ":" + port + " with " + dataFile + " (" + mode + ")");
        Thread.currentThread().join();
    }
}
