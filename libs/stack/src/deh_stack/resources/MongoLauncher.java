import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import java.util.List;

/**
 * Starts mongo-java-server on a chosen address with a persistent H2 file.
 *
 * The bundled main binds only localhost:27017 and reports wire version 8 (MongoDB 4.2);
 * PyMongo 4.18 and later refuse anything below 9 (MongoDB 4.4), so this launcher reports 4.4.
 * Usage: java -cp 'lib/*' MongoLauncher.java HOST PORT DATA_FILE
 */
public class MongoLauncher {
    /** The server version announced in the handshake; see docs/decisions/0003. */
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

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String dataFile = args[2];
        H2Backend backend = new H2Backend(dataFile);
        backend.version(Reported.MONGO_4_4);
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        // A clean stop (SIGTERM) closes the store, so the last writes reach the file.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            backend.close();
            System.out.println("mongo-java-server stopped");
        }));
        System.out.println("mongo-java-server listening on " + host + ":" + port + " with " + dataFile);
        Thread.currentThread().join();
    }
}
