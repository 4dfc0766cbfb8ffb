package dev.loraone.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/**
 * Java-heap growth of this JVM over a window, above what was live when the window opened: {@code
 * peakMiB}, the sum of the heap pools' peak usage (garbage included, so an upper bound), and {@code
 * retainedMiB}, the most the heap held right after any collection in the window (what was live).
 * For a coordinator whose JVM holds no model, both are the coordinator's own memory.
 */
final class HeapWatch implements AutoCloseable {
  record Reading(double peakMiB, double retainedMiB) {}

  private final List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
      .filter(p -> p.getType() == MemoryType.HEAP).toList();
  private final List<NotificationEmitter> emitters = new ArrayList<>();
  private final AtomicLong retained = new AtomicLong();
  private final NotificationListener listener = (n, h) -> {
    if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) return;
    var info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
    long after = info.getGcInfo().getMemoryUsageAfterGc().entrySet().stream()
        .filter(e -> heap.stream().anyMatch(p -> p.getName().equals(e.getKey())))
        .mapToLong(e -> e.getValue().getUsed()).sum();
    retained.accumulateAndGet(after, Math::max);
  };
  private long base;
  private boolean open;

  /** Opens the window: collects, takes the live heap as the base and resets the pools' peaks. */
  void start() {
    System.gc();
    base = used();
    retained.set(base);
    heap.forEach(MemoryPoolMXBean::resetPeakUsage);
    if (emitters.isEmpty()) {
      for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
        if (gc instanceof NotificationEmitter e) {
          e.addNotificationListener(listener, null, null);
          emitters.add(e);
        }
      }
    }
    open = true;
  }

  /** Closes the window (once; later calls return the same reading). */
  Reading stop() {
    if (open) {
      open = false;
      reading =
          new Reading(
              Math.max(0, heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum() - base)
                  / 1048576.0,
              Math.max(0, retained.get() - base) / 1048576.0);
      close();
    }
    return reading;
  }

  private Reading reading = new Reading(Double.NaN, Double.NaN);

  private long used() {
    return heap.stream().map(MemoryPoolMXBean::getUsage).mapToLong(MemoryUsage::getUsed).sum();
  }

  @Override
  public void close() {
    for (NotificationEmitter e : emitters) {
      try {
        e.removeNotificationListener(listener);
      } catch (javax.management.ListenerNotFoundException ignored) {
        // already removed
      }
    }
    emitters.clear();
  }
}
