import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.bson.Document;
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

    /** Commits and syncs the store after each command that changed it, before the reply leaves. */
    static class DurableH2Backend extends H2Backend {
        private final MVStore store;

        DurableH2Backend(MVStore store) {
            super(store);
            this.store = store;
        }

        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            Document reply = super.handleCommand(channel, database, command, query);
            persist();
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

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String dataFile = args[2];
        boolean durable = args.length < 4 || args[3].equals("durable");
        MVStore store = MVStore.open(dataFile);
        H2Backend backend = durable ? new DurableH2Backend(store) : new H2Backend(store);
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
