/* KafkaLagExporter — the Kafka series the ImageProcessor alerts read, served
 * as Prometheus text for the native stack (scripts/stack start prometheus).
 *
 * HOW IT WORKS. Run from source by the JDK (`java -cp 'kafka jars/*'
 * KafkaLagExporter.java BROKERS HOST:PORT`), it keeps one Kafka AdminClient
 * and answers GET /metrics by asking the brokers at that moment: the
 * partitions of every topic (internal ones left out), their oldest and newest
 * offsets, and every consumer group's committed offsets. It writes the same
 * names kafka_exporter uses, so the alert rules work unchanged with that
 * exporter on Kubernetes:
 *   kafka_brokers
 *   kafka_topic_partition_current_offset{topic,partition}
 *   kafka_topic_partition_oldest_offset{topic,partition}
 *   kafka_consumergroup_current_offset{consumergroup,topic,partition}
 *   kafka_consumergroup_lag{consumergroup,topic,partition}   newest - committed
 * A scrape that cannot reach Kafka within its deadline answers 503, so
 * Prometheus marks the target down. GET /healthz answers "ok". One request at
 * a time (the HTTP server's single thread): scrapes are rare and each is a
 * handful of admin calls. Label values are topic and group names, which Kafka
 * restricts to [a-zA-Z0-9._-]; they are escaped anyway.
 */
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

public final class KafkaLagExporter {
    private static final long DEADLINE_MS = 8000;

    private final Admin admin;

    private KafkaLagExporter(String brokers) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "imageprocessor-kafka-exporter");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) DEADLINE_MS);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) DEADLINE_MS);
        admin = Admin.create(p);
    }

    private static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    private static void line(StringBuilder b, String name, String labels, long v) {
        b.append(name).append('{').append(labels).append("} ").append(v).append('\n');
    }

    private static String tp(TopicPartition t) {
        return "topic=\"" + esc(t.topic()) + "\",partition=\"" + t.partition() + "\"";
    }

    private Map<TopicPartition, Long> offsets(List<TopicPartition> parts, OffsetSpec spec)
            throws Exception {
        Map<TopicPartition, OffsetSpec> want = new HashMap<>();
        for (TopicPartition t : parts)
            want.put(t, spec);
        Map<TopicPartition, Long> out = new HashMap<>();
        for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> e :
                admin.listOffsets(want).all().get(DEADLINE_MS, TimeUnit.MILLISECONDS).entrySet())
            out.put(e.getKey(), e.getValue().offset());
        return out;
    }

    private String render() throws Exception {
        StringBuilder b = new StringBuilder();
        int brokers = admin.describeCluster().nodes().get(DEADLINE_MS, TimeUnit.MILLISECONDS).size();
        b.append("# TYPE kafka_brokers gauge\nkafka_brokers ").append(brokers).append('\n');

        Set<String> topics = admin.listTopics().names().get(DEADLINE_MS, TimeUnit.MILLISECONDS);
        List<TopicPartition> parts = new ArrayList<>();
        Map<String, TopicDescription> desc =
            admin.describeTopics(topics).allTopicNames().get(DEADLINE_MS, TimeUnit.MILLISECONDS);
        for (TopicDescription d : desc.values())
            d.partitions().forEach(p -> parts.add(new TopicPartition(d.name(), p.partition())));
        parts.sort((x, y) -> x.topic().equals(y.topic()) ? Integer.compare(x.partition(), y.partition())
                                                         : x.topic().compareTo(y.topic()));
        Map<TopicPartition, Long> newest = offsets(parts, OffsetSpec.latest());
        Map<TopicPartition, Long> oldest = offsets(parts, OffsetSpec.earliest());
        b.append("# TYPE kafka_topic_partition_current_offset gauge\n");
        for (TopicPartition t : parts)
            line(b, "kafka_topic_partition_current_offset", tp(t), newest.getOrDefault(t, 0L));
        b.append("# TYPE kafka_topic_partition_oldest_offset gauge\n");
        for (TopicPartition t : parts)
            line(b, "kafka_topic_partition_oldest_offset", tp(t), oldest.getOrDefault(t, 0L));

        Map<String, Map<TopicPartition, OffsetAndMetadata>> groups = new TreeMap<>();
        for (ConsumerGroupListing g :
                admin.listConsumerGroups().all().get(DEADLINE_MS, TimeUnit.MILLISECONDS)) {
            Map<TopicPartition, OffsetAndMetadata> committed =
                admin.listConsumerGroupOffsets(g.groupId()).partitionsToOffsetAndMetadata()
                    .get(DEADLINE_MS, TimeUnit.MILLISECONDS);
            groups.put(g.groupId(), committed);
        }
        StringBuilder lag = new StringBuilder("# TYPE kafka_consumergroup_lag gauge\n");
        b.append("# TYPE kafka_consumergroup_current_offset gauge\n");
        for (Map.Entry<String, Map<TopicPartition, OffsetAndMetadata>> g : groups.entrySet()) {
            for (Map.Entry<TopicPartition, OffsetAndMetadata> c : g.getValue().entrySet()) {
                if (c.getValue() == null || !newest.containsKey(c.getKey()))
                    continue;
                String labels = "consumergroup=\"" + esc(g.getKey()) + "\"," + tp(c.getKey());
                long at = c.getValue().offset();
                line(b, "kafka_consumergroup_current_offset", labels, at);
                line(lag, "kafka_consumergroup_lag", labels, Math.max(0, newest.get(c.getKey()) - at));
            }
        }
        return b.append(lag).toString();
    }

    private static void answer(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(bytes);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: KafkaLagExporter BROKERS HOST:PORT");
            System.exit(2);
        }
        KafkaLagExporter exp = new KafkaLagExporter(args[0]);
        String listen = args[1];
        int colon = listen.lastIndexOf(':');
        HttpServer http = HttpServer.create(
            new InetSocketAddress(listen.substring(0, colon), Integer.parseInt(listen.substring(colon + 1))),
            16);
        http.createContext("/healthz", ex -> answer(ex, 200, "ok\n"));
        http.createContext("/metrics", ex -> {
            String body;
            int status = 200;
            try {
                body = exp.render();
            } catch (Exception e) {
                status = 503;
                body = "# kafka unreachable: " + e.toString().replace('\n', ' ') + "\n";
            }
            answer(ex, status, body);
        });
        http.start();
        System.out.println("kafka exporter: serving " + listen + " for " + args[0]);
    }
}
