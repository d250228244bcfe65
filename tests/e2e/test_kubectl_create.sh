#!/usr/bin/env bash
# kubectl create <generator> and kubectl autoscale: these send protobuf
# request bodies (application/vnd.kubernetes.protobuf); every field must
# survive the decoding, so each object is read back as JSON.
source "$(dirname "$0")/lib.sh"
e2e_start_server

jp() { kubectl get "$@" 2>&1; }

echo "== configmap / secret"
run_ok "create configmap" kubectl create configmap gen-cm --from-literal=k1=v1 --from-literal=k2='two words'
assert_eq "configmap/gen-cm created" "$OUT" "configmap created message"
assert_eq "v1|two words" "$(jp cm gen-cm -o jsonpath='{.data.k1}|{.data.k2}')" "configmap data decoded"
run_ok "create secret generic" kubectl create secret generic gen-secret --from-literal=user=admin --from-literal=pass=s3cr3t
assert_eq "secret/gen-secret created" "$OUT"
assert_eq "Opaque" "$(jp secret gen-secret -o jsonpath='{.type}')" "secret type Opaque"
assert_eq "admin" "$(jp secret gen-secret -o jsonpath='{.data.user}' | base64 -d)" "secret data (bytes) decoded"
assert_eq "s3cr3t" "$(jp secret gen-secret -o jsonpath='{.data.pass}' | base64 -d)" "second secret key"
run_ok "create secret docker-registry" kubectl create secret docker-registry gen-pull --docker-server=reg.example --docker-username=u --docker-password=p
assert_eq "kubernetes.io/dockerconfigjson" "$(jp secret gen-pull -o jsonpath='{.type}')" "docker-registry secret type"

echo "== workloads"
run_ok "create deployment" kubectl create deployment gen-deploy --image=nginx:1.25 --replicas=3 --port=8080
assert_eq "deployment.apps/gen-deploy created" "$OUT"
run kubectl get deploy gen-deploy -o json
d=$OUT
assert_eq 3 "$(jget "$d" .spec.replicas)" "deployment replicas decoded"
assert_eq "nginx:1.25" "$(jget "$d" '.spec.template.spec.containers[0].image')" "deployment image decoded"
assert_eq "nginx" "$(jget "$d" '.spec.template.spec.containers[0].name')" "container name from the image"
assert_eq 8080 "$(jget "$d" '.spec.template.spec.containers[0].ports[0].containerPort')" "container port decoded"
assert_eq "gen-deploy" "$(jget "$d" '.spec.selector.matchLabels.app')" "selector decoded"
assert_eq "gen-deploy" "$(jget "$d" '.spec.template.metadata.labels.app')" "template labels decoded"
assert_eq "25%" "$(jget "$d" '.spec.strategy.rollingUpdate.maxSurge')" "defaults applied after protobuf decode"
run_ok "create job" kubectl create job gen-job --image=busybox:1.36 -- echo hi
assert_eq "job.batch/gen-job created" "$OUT"
run kubectl get job gen-job -o json
assert_eq "busybox:1.36" "$(jget "$OUT" '.spec.template.spec.containers[0].image')" "job image"
assert_eq '["echo","hi"]' "$(jget "$OUT" '.spec.template.spec.containers[0].command|tojson')" "job command decoded"
assert_eq "Never" "$(jget "$OUT" '.spec.template.spec.restartPolicy')" "job restartPolicy"
run_ok "create cronjob" kubectl create cronjob gen-cron --image=busybox:1.36 --schedule='*/5 * * * *'
assert_eq "cronjob.batch/gen-cron created" "$OUT"
assert_eq '*/5 * * * *' "$(jp cronjob gen-cron -o jsonpath='{.spec.schedule}')" "cronjob schedule"

echo "== service"
run_ok "create service clusterip" kubectl create service clusterip gen-svc --tcp=80:8080
assert_eq "service/gen-svc created" "$OUT"
run kubectl get svc gen-svc -o json
assert_eq 80 "$(jget "$OUT" '.spec.ports[0].port')" "service port"
assert_eq 8080 "$(jget "$OUT" '.spec.ports[0].targetPort')" "targetPort (IntOrString) decoded"
assert_eq "80-8080" "$(jget "$OUT" '.spec.ports[0].name')" "port name"
assert_eq "gen-svc" "$(jget "$OUT" '.spec.selector.app')" "service selector"
assert_match "$(jget "$OUT" .spec.clusterIP)" '^10\.' "clusterIP allocated"
run_ok "create service nodeport" kubectl create service nodeport gen-np --tcp=81:8081
np=$(jp svc gen-np -o jsonpath='{.spec.ports[0].nodePort}')
if [[ "$np" =~ ^[0-9]+$ ]] && ((np >= 30000 && np <= 32767)); then pass "nodePort $np allocated in 30000-32767"; else fail "nodePort [$np]"; fi
run_ok "create service headless" kubectl create service clusterip gen-headless --clusterip=None --tcp=5432
assert_eq "None" "$(jp svc gen-headless -o jsonpath='{.spec.clusterIP}')" "headless service"

echo "== namespace / serviceaccount"
run_ok "create namespace" kubectl create namespace gen-ns
assert_eq "namespace/gen-ns created" "$OUT"
assert_eq "Active" "$(jp ns gen-ns -o jsonpath='{.status.phase}')" "new namespace Active"
run_ok "create serviceaccount" kubectl create serviceaccount gen-sa -n gen-ns
assert_eq "serviceaccount/gen-sa created" "$OUT"
assert_eq "gen-ns" "$(jp sa gen-sa -n gen-ns -o jsonpath='{.metadata.namespace}')" "serviceaccount namespace"

echo "== rbac"
run_ok "create role" kubectl create role gen-role --verb=get,list --resource=pods,deployments.apps
assert_eq "role.rbac.authorization.k8s.io/gen-role created" "$OUT"
run kubectl get role gen-role -o json
assert_eq '["get","list"]' "$(jget "$OUT" '.rules[0].verbs|tojson')" "role verbs"
assert_contains "$(jget "$OUT" '[.rules[].resources[]]|tojson')" '"pods"' "role resources"
assert_contains "$(jget "$OUT" '[.rules[].apiGroups[]]|tojson')" '"apps"' "role apiGroups"
run_ok "create rolebinding" kubectl create rolebinding gen-rb --role=gen-role --user=alice --serviceaccount=default:gen-sa
assert_eq "rolebinding.rbac.authorization.k8s.io/gen-rb created" "$OUT"
run kubectl get rolebinding gen-rb -o json
assert_eq "Role/gen-role" "$(jget "$OUT" '.roleRef.kind + "/" + .roleRef.name')" "roleRef"
assert_eq "rbac.authorization.k8s.io" "$(jget "$OUT" .roleRef.apiGroup)" "roleRef apiGroup"
assert_contains "$(jget "$OUT" '[.subjects[]|.kind+":"+.name]|join(",")')" "User:alice" "user subject"
assert_contains "$(jget "$OUT" '[.subjects[]|.kind+":"+.name]|join(",")')" "ServiceAccount:gen-sa" "serviceaccount subject"
run_ok "create clusterrole" kubectl create clusterrole gen-cr --verb=get,watch --resource=nodes
assert_eq "clusterrole.rbac.authorization.k8s.io/gen-cr created" "$OUT"
assert_eq "nodes" "$(jp clusterrole gen-cr -o jsonpath='{.rules[0].resources[0]}')" "clusterrole rule"
run_ok "create clusterrolebinding" kubectl create clusterrolebinding gen-crb --clusterrole=gen-cr --group=devs
assert_eq "clusterrolebinding.rbac.authorization.k8s.io/gen-crb created" "$OUT"
assert_eq "Group:devs" "$(jp clusterrolebinding gen-crb -o jsonpath='{.subjects[0].kind}:{.subjects[0].name}')" "group subject"

echo "== quota / pdb / priorityclass"
run_ok "create quota" kubectl create quota gen-quota --hard=pods=10,cpu=2,memory=1Gi
assert_eq "resourcequota/gen-quota created" "$OUT"
run kubectl get quota gen-quota -o json
assert_eq "10" "$(jget "$OUT" .spec.hard.pods)" "quota pods (Quantity) decoded"
assert_eq "2" "$(jget "$OUT" .spec.hard.cpu)" "quota cpu"
assert_eq "1Gi" "$(jget "$OUT" .spec.hard.memory)" "quota memory"
run_ok "create pdb" kubectl create pdb gen-pdb --selector=app=gen-deploy --min-available=2
assert_eq "poddisruptionbudget.policy/gen-pdb created" "$OUT"
run kubectl get pdb gen-pdb -o json
assert_eq 2 "$(jget "$OUT" .spec.minAvailable)" "pdb minAvailable (IntOrString)"
assert_eq "gen-deploy" "$(jget "$OUT" .spec.selector.matchLabels.app)" "pdb selector"
run_ok "create pdb with percentage" kubectl create pdb gen-pdb2 --selector=app=x --max-unavailable=30%
assert_eq "30%" "$(jp pdb gen-pdb2 -o jsonpath='{.spec.maxUnavailable}')" "pdb maxUnavailable string form"
run_ok "create priorityclass" kubectl create priorityclass gen-pc --value=1000 --description="e2e class"
assert_eq "priorityclass.scheduling.k8s.io/gen-pc created" "$OUT"
run kubectl get priorityclass gen-pc -o json
assert_eq 1000 "$(jget "$OUT" .value)" "priorityclass value"
assert_eq "e2e class" "$(jget "$OUT" .description)" "priorityclass description"
assert_eq "PreemptLowerPriority" "$(jget "$OUT" .preemptionPolicy)" "priorityclass default preemptionPolicy"
run_ok "create ingress" kubectl create ingress gen-ing --rule="foo.example/bar=gen-svc:80"
assert_eq "ingress.networking.k8s.io/gen-ing created" "$OUT"
assert_eq "foo.example" "$(jp ingress gen-ing -o jsonpath='{.spec.rules[0].host}')" "ingress host"

echo "== autoscale"
run_ok "autoscale" kubectl autoscale deployment gen-deploy --max=5 --cpu-percent=60
assert_eq "horizontalpodautoscaler.autoscaling/gen-deploy autoscaled" "$OUT"
run_ok "get hpa" kubectl get hpa
assert_match "$(head -n1 <<<"$OUT")" '^NAME +REFERENCE +TARGETS +MINPODS +MAXPODS +REPLICAS +AGE$' "hpa columns"
assert_match "$OUT" $'\ngen-deploy +Deployment/gen-deploy +.* +1 +5 +[0-9]+ +[0-9]+[smhd]' "hpa row"
run kubectl get hpa gen-deploy -o json
assert_eq "autoscaling/v2" "$(jget "$OUT" .apiVersion)" "preferred hpa version is autoscaling/v2"
assert_eq 5 "$(jget "$OUT" .spec.maxReplicas)" "v2 maxReplicas"
assert_eq 1 "$(jget "$OUT" .spec.minReplicas)" "v2 minReplicas default 1"
assert_eq 60 "$(jget "$OUT" '.spec.metrics[0].resource.target.averageUtilization')" "v2 cpu target"
assert_eq "cpu" "$(jget "$OUT" '.spec.metrics[0].resource.name')" "v2 metric resource"
# A short name drops the version in kubectl's shortcut expander
# (client-go restmapper), so the v1 view needs the full resource name.
run_ok "get horizontalpodautoscalers.v1.autoscaling" kubectl get horizontalpodautoscalers.v1.autoscaling gen-deploy -o json
assert_eq "autoscaling/v1" "$(jget "$OUT" .apiVersion)" "v1 view"
assert_eq 60 "$(jget "$OUT" .spec.targetCPUUtilizationPercentage)" "v1 targetCPUUtilizationPercentage"
assert_eq "Deployment/gen-deploy" "$(jget "$OUT" '.spec.scaleTargetRef.kind + "/" + .spec.scaleTargetRef.name')" "v1 scaleTargetRef"
run_ok "get hpa.v1.autoscaling table" kubectl get hpa.v1.autoscaling
assert_contains "$OUT" "gen-deploy"

echo "== dry runs of generators"
run_ok "create --dry-run=server" kubectl create configmap dry-cm --from-literal=a=b --dry-run=server
assert_eq "configmap/dry-cm created (server dry run)" "$OUT"
assert_fails_with nonzero 'configmaps "dry-cm" not found' kubectl get cm dry-cm
run_ok "create --dry-run=client -o yaml" kubectl create deployment dry --image=x --dry-run=client -o yaml
assert_contains "$OUT" "kind: Deployment"

echo "== generator errors"
assert_fails_with nonzero 'configmaps "gen-cm" already exists' kubectl create configmap gen-cm --from-literal=a=b
assert_fails_with nonzero 'is invalid' kubectl create configmap Bad_Name --from-literal=a=b

e2e_finish
