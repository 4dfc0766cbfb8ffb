package dev.loraone.runtime;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where a node finds the file of an uploaded dataset (and the folder of an uploaded model)
 * ({@code dataset:<sha>}, {@link
 * dev.loraone.protocol.job.DatasetRefs}): the service reads its own store, a worker node elsewhere
 * fetches into its cache ({@link DatasetFetcher}). Blocking: call it off actor threads.
 */
@FunctionalInterface
public interface DatasetSource {
  /** No source: a job naming a dataset fails with this node's reason. */
  DatasetSource NONE = sha -> {
    throw new IOException("this worker node has no service to fetch datasets from (start it with"
        + " `loraone node --role worker --server URL`, or set LORAONE_SERVER)");
  };

  /**
   * The local file holding dataset {@code sha} (its extension names the format: .jsonl, .csv, .tsv or
   * .txt), its content verified to hash to {@code sha}.
   */
  Path local(String sha) throws IOException;

  /**
   * The local folder holding uploaded model {@code id} ({@code model:<id>}, {@link
   * dev.loraone.protocol.job.ModelRefs}), every file verified against the manifest and the id.
   */
  default Path model(String id) throws IOException {
    return local(id); // NONE's reason; sources that hold models override this
  }
}
