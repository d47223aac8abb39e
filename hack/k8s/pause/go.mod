module autonomy.local/k8s-build/pause

go 1.24
