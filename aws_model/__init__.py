"""AWS's published rules as data, shared by the benchmarks and the local stack: how many capacity units a
DynamoDB request consumes (`capacity`), the service quotas this system meets (`limits`) and the list prices
its cost model uses (`prices`). Pure: no AWS client, no I/O; each figure names the page it comes from.
"""
