// An example partner system in Java, written from docs/partners.md alone: it sends the conformance
// kit's messages (docs/conformance/cases.json) as the partner it was onboarded as, reads its
// outcomes, and checks that each message got the outcome the kit says. Exit status 0 when all do.
//
// Run with the Kafka client and Jackson on the class path (Java 17's single-file launcher):
//   java -cp "kafka/libs/*" ConformancePartner.java docs/conformance/cases.json
// Connection from the environment: DEH_PARTNER_BOOTSTRAP, DEH_PARTNER_NAME, DEH_PARTNER_PASSWORD,
// and DEH_PARTNER_SECURITY_PROTOCOL (SASL_SSL unless set; SASL_PLAINTEXT on a developer's machine).

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class ConformancePartner {
    static final Duration WAIT_FOR_OUTCOMES = Duration.ofSeconds(120);

    /** One outcome as the partner reads it: its own id, and what it says. */
    record Outcome(String id, String says) {}

    public static void main(String[] args) throws Exception {
        String partner = System.getenv("DEH_PARTNER_NAME");
        String run = "run" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        JsonNode kit = new ObjectMapper().readTree(Files.readString(Path.of(args[0])));

        // What each message (by its ce_id) must get: one entry per case.
        Map<String, List<String>> expected = new HashMap<>();
        Map<String, List<String>> casesOf = new HashMap<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerSettings())) {
            for (JsonNode c : kit.get("cases")) {
                String topic = "deh.partner." + partner + "." + c.get("topic").asText() + ".v1";
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(
                        topic, bytes(fill(c.get("key").asText(), partner, run)), bytes(fill(c.get("value").asText(), partner, run)));
                c.get("headers").fields().forEachRemaining(
                        header -> record.headers().add(header.getKey(), bytes(fill(header.getValue().asText(), partner, run))));
                String ceId = fill(c.get("headers").get("ce_id").asText(), partner, run);
                expected.computeIfAbsent(ceId, id -> new ArrayList<>()).add(says(c.get("expect")));
                casesOf.computeIfAbsent(ceId, id -> new ArrayList<>()).add(c.get("name").asText());
                producer.send(record).get(); // in order: each case follows the one before
            }
        }

        Map<String, List<Outcome>> received = readOutcomes(partner, run, expected);
        int failed = 0;
        for (Map.Entry<String, List<String>> entry : expected.entrySet()) {
            List<Outcome> outcomes = received.getOrDefault(entry.getKey(), List.of());
            List<String> got = outcomes.stream().map(Outcome::says).sorted().toList();
            List<String> wanted = entry.getValue().stream().sorted().toList();
            Set<String> acceptanceIds = new HashSet<>();
            outcomes.stream().filter(o -> o.says().equals("accepted")).forEach(o -> acceptanceIds.add(o.id()));
            boolean ok = got.equals(wanted) && acceptanceIds.size() <= 1;
            failed += ok ? 0 : 1;
            System.out.printf("%s  %s: %s%n", ok ? "PASS" : "FAIL", String.join(" / ", casesOf.get(entry.getKey())),
                    ok ? got : "wanted " + wanted + ", got " + got + " with acceptance ids " + acceptanceIds);
        }
        System.out.printf("%d of %d messages got the outcomes the kit says%n", expected.size() - failed, expected.size());
        System.exit(failed == 0 ? 0 : 1);
    }

    /** Outcomes about this run's messages, until each message has as many as it expects. */
    static Map<String, List<Outcome>> readOutcomes(String partner, String run, Map<String, List<String>> expected)
            throws Exception {
        Properties settings = connection();
        settings.put("group.id", partner + ".conformance-" + run); // a partner's groups start with its name and a dot
        settings.put("auto.offset.reset", "earliest");
        settings.put("key.deserializer", ByteArrayDeserializer.class.getName());
        settings.put("value.deserializer", ByteArrayDeserializer.class.getName());
        Map<String, List<Outcome>> received = new HashMap<>();
        ObjectMapper json = new ObjectMapper();
        Instant deadline = Instant.now().plus(WAIT_FOR_OUTCOMES);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(settings)) {
            consumer.subscribe(List.of("deh.partner." + partner + ".outcomes.v1"));
            while (!complete(received, expected) && Instant.now().isBefore(deadline)) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    JsonNode outcome = json.readTree(record.value());
                    String requestId = outcome.path("request_id").asText();
                    if (!expected.containsKey(requestId)) {
                        continue; // an outcome of an earlier run
                    }
                    String type = header(record, "ce_type");
                    received.computeIfAbsent(requestId, id -> new ArrayList<>())
                            .add(new Outcome(header(record, "ce_id"), says(type, outcome)));
                }
            }
        }
        return received;
    }

    static boolean complete(Map<String, List<Outcome>> received, Map<String, List<String>> expected) {
        return expected.entrySet().stream()
                .allMatch(e -> received.getOrDefault(e.getKey(), List.of()).size() >= e.getValue().size());
    }

    /** "accepted", or "rejected <location> <kind>" for each reason. */
    static String says(String type, JsonNode outcome) {
        if (type.endsWith(".submission.accepted.v1")) {
            return "accepted";
        }
        List<String> reasons = new ArrayList<>();
        outcome.path("reasons").forEach(r -> reasons.add(r.path("location").asText() + " " + r.path("kind").asText()));
        return "rejected " + String.join(", ", reasons);
    }

    static String says(JsonNode expect) {
        return expect.get("outcome").asText().equals("accepted")
                ? "accepted"
                : "rejected " + expect.get("location").asText() + " " + expect.get("kind").asText();
    }

    static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        Header header = record.headers().lastHeader(name);
        return header == null ? "" : new String(header.value(), StandardCharsets.UTF_8);
    }

    static String fill(String text, String partner, String run) {
        return text.replace("{partner}", partner).replace("{run}", run);
    }

    static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    static Properties producerSettings() {
        Properties settings = connection();
        settings.put("acks", "all");
        settings.put("enable.idempotence", "true");
        settings.put("key.serializer", ByteArraySerializer.class.getName());
        settings.put("value.serializer", ByteArraySerializer.class.getName());
        return settings;
    }

    /** SASL/SCRAM-SHA-512 as the partner's own user (docs/partners.md, Connection). */
    static Properties connection() {
        Properties settings = new Properties();
        settings.put("bootstrap.servers", System.getenv("DEH_PARTNER_BOOTSTRAP"));
        String protocol = System.getenv("DEH_PARTNER_SECURITY_PROTOCOL");
        settings.put("security.protocol", protocol == null ? "SASL_SSL" : protocol);
        settings.put("sasl.mechanism", "SCRAM-SHA-512");
        settings.put("sasl.jaas.config", String.format(
                "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"%s\" password=\"%s\";",
                System.getenv("DEH_PARTNER_NAME"), System.getenv("DEH_PARTNER_PASSWORD")));
        return settings;
    }
}
