using System.Security.Cryptography;

namespace GroundSharp.Web;

/// <summary>
/// Rendered overlay PNGs for <c>GET /api/overlay/{id}</c>, bounded by entry count and total bytes; the oldest
/// entries are dropped first. Ids are random (128 bits), so one client cannot enumerate another's overlays.
/// </summary>
public sealed class OverlayCache(int maxEntries, long maxBytes)
{
    private readonly object _lock = new();
    private readonly Dictionary<string, byte[]> _entries = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private long _bytes;

    public int Count { get { lock (_lock) return _entries.Count; } }

    public string Add(byte[] png)
    {
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        lock (_lock)
        {
            _entries[id] = png;
            _order.Enqueue(id);
            _bytes += png.Length;
            while (_order.Count > 0 && (_entries.Count > maxEntries || _bytes > maxBytes))
            {
                var oldest = _order.Dequeue();
                if (_entries.Remove(oldest, out var dropped)) _bytes -= dropped.Length;
            }
        }
        return id;
    }

    public bool TryGet(string id, out byte[] png)
    {
        lock (_lock) return _entries.TryGetValue(id, out png!);
    }
}
